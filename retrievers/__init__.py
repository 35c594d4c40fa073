"""retrievers package."""
