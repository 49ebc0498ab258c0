"""FIX: the decoder (bytes to fills), and later the QuickFIX application and busts."""
