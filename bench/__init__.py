"""Glucodiary's benchmark harness (not tests): starts servers, drives them with wrk, prints figures."""
