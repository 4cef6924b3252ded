"""The API's URL prefix for tests, taken from the app so no test writes it out."""

from api.main import API_PREFIX

API = API_PREFIX
