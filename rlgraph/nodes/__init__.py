"""The node library: one module per family. Every module here is imported when the
registry is first used, and each registers its nodes with `@register`."""
