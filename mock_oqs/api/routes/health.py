"""Liveness: the one path that needs no client certificate."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()


@router.get("/health", summary="liveness (no client certificate needed)")
async def health() -> dict[str, str]:
    return {"status": "ok"}
