"""The HTTP edge: FastAPI app factory, one router per resource, schemas, auth, errors."""
