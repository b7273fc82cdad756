"""Tables, engine and sessions, query functions and dataloaders."""
