"""Frame selection (uniform, k-means) and extract_frames."""
