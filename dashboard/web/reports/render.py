"""The report's words, PDF and e-mail, made in the worker in the reader's language.

:class:`ReportRenderer` is what :class:`dashboard.core.jobs.Jobs` calls (its
``renderer``): it pushes an app context of its own, forces the reader's
language, renders the templates of ``templates/reports/`` and ``templates/mail/``
and turns them into a PDF (WeasyPrint) or PNG charts (CairoSVG). Links in
e-mails point at ``PUBLIC_BASE_URL``: the worker has no request to take a host from.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Flask, render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from dashboard.core import alert_text
from dashboard.core.compare import Comparison
from dashboard.core.digest import DigestMail
from dashboard.core.mail import Part
from dashboard.core.reports import ReportData
from dashboard.storage.models import MailAddress

from .view import comparison_view, report_view

log = logging.getLogger(__name__)

#: PNG charts in e-mails are drawn at twice their shown width, for sharp phone screens.
PNG_WIDTH = 1200


def pdf_from_html(html: str) -> bytes:
    """The PDF of ``html``; it inlines its pictures (``data:``), so nothing else is ever fetched."""
    import weasyprint  # here: it takes longer to import than `flask sync` takes to start

    fetcher = weasyprint.URLFetcher(allowed_protocols={"data"}, allow_redirects=False)
    return weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf()


def png_from_svg(svg: str) -> bytes:
    import cairosvg  # here, as weasyprint above

    return cairosvg.svg2png(bytestring=svg.encode(), output_width=PNG_WIDTH, background_color="white")


def public_url(config) -> str:
    """Where people open the dashboard (``PUBLIC_BASE_URL``, made final by the settings)."""
    return config["PUBLIC_BASE_URL"].rstrip("/")


class ReportRenderer:
    """Reports and e-mails in words, for the worker (no request needed)."""

    def __init__(self, app: Flask):
        self.app = app

    def url(self, endpoint: str, **values) -> str:
        """An absolute link to this dashboard, built without a request."""
        parts = urlsplit(public_url(self.app.config))
        adapter = self.app.url_map.bind(parts.netloc, script_name=parts.path or "/",
                                        url_scheme=parts.scheme)
        return adapter.build(endpoint, values, force_external=True)

    def report_html(self, data: ReportData, lang: str) -> str:
        with self.app.app_context(), force_locale(lang):
            return render_template("reports/report.html", lang=lang, **report_view(data))

    def report_pdf(self, data: ReportData, lang: str) -> bytes:
        return pdf_from_html(self.report_html(data, lang))

    def comparison_html(self, data: Comparison, lang: str) -> str:
        with self.app.app_context(), force_locale(lang):
            return render_template("reports/compare.html", lang=lang, **comparison_view(data))

    def comparison_pdf(self, data: Comparison, lang: str) -> bytes:
        return pdf_from_html(self.comparison_html(data, lang))

    def report_filename(self, data: ReportData) -> str:
        return f"tiktok-report-{data.start.isoformat()}-{data.end.isoformat()}.pdf"

    def unsubscribe_url(self, address: MailAddress) -> str:
        """The one-click URL of ``List-Unsubscribe`` (POST, RFC 8058)."""
        return self.url("settings.unsubscribe_post", token=address.unsubscribe_token)

    def unsubscribe_page(self, address: MailAddress) -> str:
        """The page a reader opens from the e-mail's text (a button that posts)."""
        return self.url("settings.unsubscribe", token=address.unsubscribe_token)

    def digest(self, address: MailAddress, data: ReportData, frequency: str) -> DigestMail:
        """The digest e-mail: HTML with PNG charts, a plain-text part, the PDF attached."""
        pdf = self.report_pdf(data, address.lang)
        with self.app.app_context(), force_locale(address.lang):
            view = report_view(data, covers=False)
            images = tuple(Part(f"chart-{i}.png", png_from_svg(str(c["svg"])), "image/png",
                                cid=f"chart-{i}@tiktok-dashboard")
                           for i, c in enumerate(view["charts"], 1))
            links = {"settings": self.url("settings.index"), "dashboard": self.url("dashboard.overview"),
                     "unsubscribe": self.unsubscribe_page(address)}
            context = {**view, "images": [i.cid for i in images], "links": links,
                       "frequency": frequency, "lang": address.lang}
            subject = (_("Weekly TikTok digest: %(name)s, %(range)s", name=view["name"],
                         range=view["range_text"]) if frequency == "weekly" else
                       _("Monthly TikTok digest: %(name)s, %(range)s", name=view["name"],
                         range=view["range_text"]))
            html = render_template("mail/digest.html", **context)
            text = render_template("mail/digest.txt", **context)
        return DigestMail(subject=subject, text=text, html=html, images=images,
                          pdf=Part(self.report_filename(data), pdf, "application/pdf"))

    def alert_email(self, alert, address: MailAddress) -> tuple[str, str]:
        """An alert's e-mail subject and text, in the address's language."""
        gettext = alert_text.translator(address.lang)
        with self.app.app_context(), force_locale(address.lang):
            text = "\n\n".join((
                alert_text.body(alert, gettext, address.lang),
                _("All alerts: %(link)s", link=self.url("alerts.index") + f"#alert-{alert.id}"),
                _("Change what you receive: %(link)s", link=self.url("settings.index")),
                _("Unsubscribe: %(link)s", link=self.unsubscribe_page(address))))
            return alert_text.title(alert, gettext), text

    def confirmation(self, address: MailAddress, secret: str) -> tuple[str, str]:
        """The confirmation e-mail's subject and text."""
        with self.app.app_context(), force_locale(address.lang):
            link = self.url("settings.confirm", token=secret)
            text = render_template("mail/confirm.txt", link=link, email=address.email,
                                   settings=self.url("settings.index"))
            return _("Confirm your e-mail address for the TikTok dashboard"), text
