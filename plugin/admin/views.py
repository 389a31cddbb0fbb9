"""(being built)"""
from flask import Blueprint

bp = Blueprint("admin_views", __name__)
