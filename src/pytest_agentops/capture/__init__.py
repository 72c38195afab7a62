"""Recording an agent run: the recorder, its producers (@tool, litellm, the wire), tool replay."""
