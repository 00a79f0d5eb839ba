
# --- Appended by `make docs` (tests/docs/site/conf_extra.py) to the conf.py that
# `antsibull-docs sphinx-init` writes: the site is built offline (no intersphinx inventory
# is fetched, so references into the Ansible docs are resolved here instead), and the
# theme's links to Ansible's own site are replaced by links to this project.
import re as _re

from docutils import nodes as _nodes

# `extensions` comes from the generated part of conf.py, above this one.
extensions = [ext for ext in globals().get("extensions", []) if ext != "sphinx.ext.intersphinx"]
intersphinx_mapping = {}
# The default, "PROJECT VERSION documentation", has a double space when there is no version.
html_title = "jumphosts.multihop documentation"
# The theme's default top bar links to Ansible's blog and forum; this one to the project.
html_theme_options = {
    "topbar_links": {
        "Repository": "https://github.com/jumphosts/multihop",
        "Issues": "https://github.com/jumphosts/multihop/issues",
    },
}

_OWN = "ansible_collections.jumphosts.multihop."
# antsibull-docs labels other collections' plugin pages ansible_collections.NS.NAME.PLUGIN_TYPE;
# docs.ansible.com publishes them under a predictable URL.
_PLUGIN_LABEL = _re.compile(r"ansible_collections\.(\w+)\.(\w+)\.(\w+)_(\w+)$")
_PLUGIN_URL = "https://docs.ansible.com/ansible/latest/collections/{0}/{1}/{2}_{3}.html"


def _outside_reference(app, env, node, contnode):
    """Resolve what points outside this collection: a plugin of another collection becomes an
    external link, an Ansible docs label or core environment variable plain text. A missing
    label of this collection is left alone, so Sphinx still reports it."""
    target = node.get("reftarget", "")
    if node.get("refdomain") != "std" or target.startswith(_OWN):
        return None
    if node.get("reftype") == "ref":
        match = _PLUGIN_LABEL.match(target)
        if match:
            return _nodes.reference("", "", contnode, refuri=_PLUGIN_URL.format(*match.groups()))
        return contnode
    if node.get("reftype") == "envvar" and target.startswith("ANSIBLE_"):
        return contnode
    return None


def _home_link(app, pagename, templatename, context, doctree):
    """The theme links its header to documentation_home_url, "/" by default: the root of the
    web server, not of this site. Point it at this site's index, relative to each page."""
    context["theme_documentation_home_url"] = context["pathto"]("index")


def setup(app):
    app.connect("missing-reference", _outside_reference)
    app.connect("html-page-context", _home_link)
