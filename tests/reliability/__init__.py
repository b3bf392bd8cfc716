"""Reliability and security suite: faults, attacks, fuzzing and a soak, end to end through the middleware."""
