"""Administration of weight sets: propose, preview, apply, roll back, with an audit log."""
