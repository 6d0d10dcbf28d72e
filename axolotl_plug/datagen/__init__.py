"""Building PLUG training data from instruction data and its translations."""
