"""One module per stage; see components/stage.py for the functions each provides."""
