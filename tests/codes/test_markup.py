from codes.markup import render_markdown


def test_headings_paragraphs_and_bullets_render():
    html = render_markdown("## Legal framework\n\nThis policy has due regard.\n\n- Data Protection Act 2018\n- Defamation Act 2013")
    assert "<h2>Legal framework</h2>" in html
    assert "<li>Data Protection Act 2018</li>" in html


def test_script_and_event_handlers_cannot_get_in():
    html = render_markdown(
        '<script>alert(1)</script>\n\n<img src=x onerror="alert(2)">\n\n<a href="javascript:alert(3)" onclick="x()">link</a>'
    )
    assert "<script" not in html and "onerror" not in html and "onclick" not in html
    assert "javascript:" not in html and "<img" not in html
