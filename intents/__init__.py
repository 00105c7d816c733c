"""Intent templates (hassil YAML data) and the text matcher."""
