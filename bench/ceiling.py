"""The framework's ceiling for `bench/read_requests.py`: FastAPI answering a constant (no
underscore in the name, so `make bench` does not take it for a benchmark)."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/constant")
async def constant() -> dict[str, str]:
    return {"status": "ok"}
