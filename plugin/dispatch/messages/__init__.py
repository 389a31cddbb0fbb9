"""Message templates and rendering (restock notices here; intake confirmations in ``intake``)."""
