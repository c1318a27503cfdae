"""prst's own source plugins, one module per provider family, registered like outside plugins."""
