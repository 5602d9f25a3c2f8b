"""Knowledge articles and ticket suggestions: the only app package that imports ``knowledge_base``."""
