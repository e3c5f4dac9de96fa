"""AI providers behind one interface: Anthropic, any OpenAI-compatible endpoint, a stub."""
