"""Expression Lab (표정 실험실): the entrance. Page config, navigation and the sidebar only."""

from pathlib import Path

import streamlit as st

from webui.common import tr
from webui.session import bootstrap, run_page, sidebar

st.set_page_config(page_title="표정 실험실 · Expression Lab", page_icon="🙂", layout="wide")
HERE = Path(__file__).resolve().parent
bootstrap()

PAGES = [
    ("views/home.py", "nav.home", "🏠", "home"),
    ("views/collect.py", "nav.collect", "📷", "collect"),
    ("views/label.py", "nav.label", "🏷️", "label"),
    ("views/split.py", "nav.split", "✂️", "split"),
    ("views/train.py", "nav.train", "🏋️", "train"),
    ("views/evaluate.py", "nav.evaluate", "🎯", "evaluate"),
    ("views/lab.py", "nav.lab", "🧪", "lab"),
    ("views/korean7.py", "nav.korean7", "🇰🇷", "korean7"),
    ("views/teacher.py", "nav.teacher", "🧑‍🏫", "teacher"),
]
nav = st.navigation(
    [
        st.Page(path, title=tr(key), icon=icon, url_path=url, default=(url == "home"))
        for path, key, icon, url in PAGES
        if (HERE / path).is_file()
    ]
)
sidebar()
run_page(nav)
