"""(being built)"""
from flask import Blueprint

bp = Blueprint("plugin_links", __name__)
