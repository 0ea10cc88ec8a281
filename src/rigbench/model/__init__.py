"""Facts about the model and the machine: GGUF header facts, roofline, bandwidth, host."""
