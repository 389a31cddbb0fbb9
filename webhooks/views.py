"""(being built)"""
from flask import Blueprint

bp = Blueprint("webhooks_views", __name__)
