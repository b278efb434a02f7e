"""What several experiments share: limits on what a user may ask, metric history, layers and inits, the
learning-rate schedules, the device, and the export formats."""
