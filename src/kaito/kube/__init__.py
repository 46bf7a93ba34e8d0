"""Generic controller machinery in the manner of client-go and controller-runtime; knows nothing of KAITO."""
