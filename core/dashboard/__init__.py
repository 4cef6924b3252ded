"""What the clinic dashboard reads and keeps beyond the JSON API's services: its sessions and its overviews."""
