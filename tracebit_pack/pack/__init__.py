"""The pack as a repository: its analysis items (rules, queries, globals, packs) and what is not evaluated."""
