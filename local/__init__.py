"""The Docker-free local stack (development only, never deployed)."""
