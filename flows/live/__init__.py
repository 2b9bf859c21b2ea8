"""Live pages: engine events rendered into the pages' own fragments and pushed over Channels."""
