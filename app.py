"""Expression Lab (표정 실험실): the entrance. Page config, navigation and the sidebar only."""

from pathlib import Path

import streamlit as st

from edu_core import ui

st.set_page_config(page_title="표정 실험실 · Expression Lab", page_icon="🙂", layout="wide")
HERE = Path(__file__).resolve().parent
ui.bootstrap()

PAGES = [
    ("pages/home.py", "nav.home", "🏠", "home"),
    ("pages/collect.py", "nav.collect", "📷", "collect"),
    ("pages/label.py", "nav.label", "🏷️", "label"),
    ("pages/split.py", "nav.split", "✂️", "split"),
    ("pages/train.py", "nav.train", "🏋️", "train"),
    ("pages/evaluate.py", "nav.evaluate", "🎯", "evaluate"),
    ("pages/lab.py", "nav.lab", "🧪", "lab"),
    ("pages/korean7.py", "nav.korean7", "🇰🇷", "korean7"),
    ("pages/teacher.py", "nav.teacher", "🧑‍🏫", "teacher"),
]
nav = st.navigation(
    [
        st.Page(path, title=ui.tr(key), icon=icon, url_path=url, default=(url == "home"))
        for path, key, icon, url in PAGES
        if (HERE / path).is_file()
    ]
)
ui.sidebar()
nav.run()
