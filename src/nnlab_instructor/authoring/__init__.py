"""For instructors: where things are in a course folder, and regenerating what derives from source/."""
