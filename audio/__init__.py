"""Audio in and out: audio values, files, endpointing, speech to text, text to speech."""
