"""Typed application state (owned by the lifespan) and the `Annotated` dependencies that
hand its parts to the routers."""

from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends, Request
from temporalio.client import Client

from docket.settings import Settings
from docket.storage import FileStorage


@dataclass
class AppState:
    settings: Settings
    pool: asyncpg.Pool
    temporal: Client
    storage: FileStorage


# The getters are async on purpose: FastAPI runs plain `def` dependencies in a thread
# pool, a hop per dependency per request that showed up in profiles of cheap requests.
async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.docket
    return state


async def get_pool(state: Annotated[AppState, Depends(get_state)]) -> asyncpg.Pool:
    return state.pool


async def get_temporal(state: Annotated[AppState, Depends(get_state)]) -> Client:
    return state.temporal


async def get_settings(state: Annotated[AppState, Depends(get_state)]) -> Settings:
    return state.settings


async def get_storage(state: Annotated[AppState, Depends(get_state)]) -> FileStorage:
    return state.storage


StateDep = Annotated[AppState, Depends(get_state)]
PoolDep = Annotated[asyncpg.Pool, Depends(get_pool)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
StorageDep = Annotated[FileStorage, Depends(get_storage)]
