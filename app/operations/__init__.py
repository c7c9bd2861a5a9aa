"""What a platform team watches: the metrics it pages on."""
