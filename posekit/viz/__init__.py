"""Drawing in numpy, labeled images (check_labels), colors from config."""
