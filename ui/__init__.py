"""The Streamlit app's tabs: widgets and charts over `compare.workbench.Workbench`, nothing more."""
