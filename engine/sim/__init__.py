"""Simulated matching-engine traffic."""
