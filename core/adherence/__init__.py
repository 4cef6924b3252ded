"""Diary adherence: reminders for a missing fasting reading, messages about a silent diary."""
