"""Builds what a command needs, lazily: settings, data directory, journal, content, matcher, voice."""

from __future__ import annotations

import logging
import random
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.clock import Clock, SystemClock
from assistant.config import Settings, load_settings
from assistant.paths import DataDir, default_data_dir

if TYPE_CHECKING:
    from assistant.dialog import Dialog
    from assistant.journal import Journal
    from audio.playback import Speaker
    from audio.tts import TextToSpeech
    from intents.matcher import Matcher

_LOGGER = logging.getLogger(__name__)


def _is_file(path: Path) -> bool:
    """Path.is_file, but False for a data directory that cannot be searched: the step that needs the directory
    then reports that in one line (instead of a traceback here, before any command has run)."""
    try:
        return path.is_file()
    except PermissionError:
        return False


class App:
    """One per process. Nothing heavy is imported or loaded until a command asks for it."""

    def __init__(self, data_dir: Path | None, config: Path | None) -> None:
        self.data = DataDir(data_dir or default_data_dir())
        """The data directory layout."""
        if config is None and _is_file(self.data.config):
            config = self.data.config
        self.settings: Settings = load_settings(config)
        """Settings from defaults, the config file and (later) command-line options."""
        self.clock: Clock = SystemClock()
        self._speaker: Speaker | None = None
        self._voice: TextToSpeech | None = None

    @cached_property
    def journal(self) -> Journal:
        """The gratitude journal, created on first use."""
        from assistant.journal import Journal

        self.data.ensure()
        return Journal(self.data.journal)

    @cached_property
    def matcher(self) -> Matcher:
        """The intent matcher (templates loaded once)."""
        from intents.matcher import Matcher

        return Matcher(semantic=self.settings.understand_by_meaning)

    def dialog(self) -> Dialog:
        """A fresh dialog over this app's journal and content."""
        from assistant.content import load_content
        from assistant.dialog import Dialog
        from assistant.skills.base import SkillContext

        rng = random.Random(self.settings.seed)
        ctx = SkillContext(load_content(), self.journal, self.journal, self.clock, rng)
        return Dialog(ctx, self.matcher, self.settings.date_night_interval)

    def speaker(self) -> Speaker:
        """Speaks replies aloud, or stays silent when muted."""
        if self._speaker is None:
            from audio.playback import make_speaker

            self._speaker = make_speaker(self.settings)
        return self._speaker

    def voice(self) -> TextToSpeech:
        """The text-to-speech voice the settings ask for, loaded once."""
        if self._voice is None:
            from audio.tts import create_voice

            self._voice = create_voice(self.settings)
        return self._voice

    def speak(self, text: str) -> bool:
        """Say a reply and block until it is done (no-op when muted). False when stopped or no device."""
        if self.settings.mute or not text:
            return True
        return self.speaker().play(self.voice().synthesize(text))

    def close(self) -> None:
        """Release devices and files."""
        if self._speaker is not None:
            self._speaker.stop()
        if "journal" in self.__dict__:
            self.journal.close()
