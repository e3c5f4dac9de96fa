"""AI for Hire: the peer's marketplace (tasks, quotes, escrow, deliveries) with a way out of
every state, and Timmy itself as a contractor."""
