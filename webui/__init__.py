"""Everything that imports streamlit besides app.py and views/: session, resources, page widgets."""
