"""(being built)"""
from flask import Blueprint

bp = Blueprint("plugin_storefront", __name__)
