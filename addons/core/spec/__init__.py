"""What the official specs say about Box and Graph, derived once into compact files that ship with
the package (derive.py makes them from ../shared/specs; tests/test_spec_model.py fails when they are
stale), read lazily the first time a request needs them."""

# The smallest image a generated answer can carry where an image is expected (a user's photo, an
# icon): a 1x1 GIF, as the placeholders Graph and Box serve are.
PIXEL_GIF = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")
# A 1x1 transparent PNG, for what Box serves as PNG (a file's thumbnail).
PIXEL_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000b4944415478da63600002000005"
    "0001e9fadcd80000000049454e44ae426082"
)
