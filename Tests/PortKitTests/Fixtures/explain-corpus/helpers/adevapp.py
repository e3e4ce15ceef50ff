from aiohttp import web
def app():
    return web.Application()
