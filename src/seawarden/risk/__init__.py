"""Risk: learned normalcy of traffic, scoring and explanation."""
