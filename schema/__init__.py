"""The GraphQL surface: strawberry types, inputs, payloads, the root types and extensions."""
