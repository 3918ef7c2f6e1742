"""The shapes of a plugin's declarations, as dify_plugin 0.10.2 validates and dumps them. Pure: no file access.

Each model mirrors the SDK's entity of the same name: the same fields in the same order, the same types, defaults,
aliases and normalising validators, so that `model_dump(mode="json")` gives what the SDK sends in its
`*_declaration` messages (I18n texts expanded to all four languages, defaults filled in). File references (a tool's
YAML, a model's YAML, ...) are resolved by the folder loader before these models see the data; the loader keeps the
SDK's rules for which keys of those files count. A contract test compares the result with a real SDK process.
"""

from __future__ import annotations

import contextlib
import datetime
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any

from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

# The daemon's manifest check (stricter than the SDK's: lower-case authors only).
AUTHOR_PATTERN = re.compile(r"^[a-z0-9_-]{1,64}$")
NAME_PATTERN = re.compile(r"^[a-z0-9_-]{1,128}$")


class I18nObject(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True, validate_by_alias=True, validate_by_name=True)

    zh_hans: str | None = Field(default=None, alias="zh_Hans")
    pt_br: str | None = Field(default=None, alias="pt_BR")
    ja_jp: str | None = Field(default=None, alias="ja_JP")
    en_us: str = Field(alias="en_US")

    @model_validator(mode="after")
    def fill_missing_translations(self) -> I18nObject:
        if not self.zh_hans:
            self.zh_hans = self.en_us
        if not self.pt_br:
            self.pt_br = self.en_us
        if not self.ja_jp:
            self.ja_jp = self.en_us
        return self


class ParameterOption(BaseModel):
    value: str
    label: I18nObject
    icon: str | None = None

    @field_validator("value", mode="before")
    @classmethod
    def transform_id_to_str(cls, value: object) -> str:
        return value if isinstance(value, str) else str(value)


class ParameterAutoGenerate(BaseModel):
    class Type(StrEnum):
        PROMPT_INSTRUCTION = "prompt_instruction"

    type: Type


class ParameterTemplate(BaseModel):
    enabled: bool


class CommonParameterType(Enum):
    SECRET_INPUT = "secret-input"
    TEXT_INPUT = "text-input"
    SELECT = "select"
    STRING = "string"
    NUMBER = "number"
    FILE = "file"
    FILES = "files"
    BOOLEAN = "boolean"
    CHECKBOX = "checkbox"
    APP_SELECTOR = "app-selector"
    MODEL_SELECTOR = "model-selector"
    TOOLS_SELECTOR = "array[tools]"
    ANY = "any"
    OBJECT = "object"
    ARRAY = "array"
    DYNAMIC_SELECT = "dynamic-select"
    DATE = "date"
    DATE_RANGE = "date-range"


class ConfigOption(BaseModel):
    value: str
    label: I18nObject


class ProviderConfig(BaseModel):
    class Type(Enum):  # the SDK names this enum `Config`, which pydantic reads as a deprecated config class
        SECRET_INPUT = "secret-input"
        TEXT_INPUT = "text-input"
        SELECT = "select"
        BOOLEAN = "boolean"
        MODEL_SELECTOR = "model-selector"
        APP_SELECTOR = "app-selector"
        TOOLS_SELECTOR = "array[tools]"

    name: str
    type: Type
    scope: str | None = None
    required: bool = False
    default: int | float | str | bool | list[Any] | None = None
    options: list[ConfigOption] | None = None
    multiple: bool | None = False
    label: I18nObject
    help: I18nObject | None = None
    url: str | None = None
    placeholder: I18nObject | None = None


class OAuthSchema(BaseModel):
    client_schema: Sequence[ProviderConfig] = Field(default_factory=list)
    credentials_schema: Sequence[ProviderConfig] = Field(default_factory=list)


def named_list(value: Any, what: str) -> list[Any]:
    """`{name: {...}}` as `[{name, ...}]`, the SDK's reading of credential maps."""
    if isinstance(value, dict):
        return [{**item, "name": name} if isinstance(item, dict) else item for name, item in value.items()]
    if isinstance(value, list):
        return value
    raise TypeError(f"{what} should be a list or dict")


# -- manifest


class PluginArch(Enum):
    AMD64 = "amd64"
    ARM64 = "arm64"


class PluginLanguage(Enum):
    PYTHON = "python"


class PluginType(Enum):
    Plugin = "plugin"


class PluginResourceRequirements(BaseModel):
    class Permission(BaseModel):
        class Tool(BaseModel):
            enabled: bool | None = False

        class Model(BaseModel):
            enabled: bool | None = False
            llm: bool | None = False
            text_embedding: bool | None = False
            rerank: bool | None = False
            tts: bool | None = False
            speech2text: bool | None = False
            moderation: bool | None = False

        class Node(BaseModel):
            enabled: bool | None = False

        class Endpoint(BaseModel):
            enabled: bool | None = False

        class App(BaseModel):
            enabled: bool | None = False

        class Storage(BaseModel):
            enabled: bool | None = False
            size: int = Field(ge=1024, le=1073741824, default=1048576)

        tool: Tool | None = None
        model: Model | None = None
        node: Node | None = None
        endpoint: Endpoint | None = None
        app: App | None = None
        storage: Storage | None = None

    memory: int
    permission: Permission | None = None


def _checked_version(value: str | None) -> str | None:
    if value is not None:
        try:
            Version(value)
        except InvalidVersion as error:
            raise ValueError(f"Invalid version format: {value}") from error
    return value


class PluginConfiguration(BaseModel):
    class Plugins(BaseModel):
        tools: list[str] = Field(default_factory=list)
        models: list[str] = Field(default_factory=list)
        endpoints: list[str] = Field(default_factory=list)
        agent_strategies: list[str] = Field(default_factory=list)
        datasources: list[str] = Field(default_factory=list)
        triggers: list[str] = Field(default_factory=list)

    class Meta(BaseModel):
        class PluginRunner(BaseModel):
            language: PluginLanguage
            version: str
            entrypoint: str

        version: str
        arch: list[PluginArch]
        runner: PluginRunner
        minimum_dify_version: str | None = None

        @field_validator("minimum_dify_version")
        @classmethod
        def validate_minimum_dify_version(cls, value: str | None) -> str | None:
            return _checked_version(value)

    version: str
    type: PluginType
    author: str | None = Field(..., pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    name: str = Field(..., pattern=r"^[a-z0-9_-]{1,128}$")
    repo: str | None = None
    description: I18nObject
    icon: str
    icon_dark: str | None = None
    label: I18nObject
    created_at: datetime.datetime
    resource: PluginResourceRequirements
    plugins: Plugins
    meta: Meta

    @field_validator("version")
    @classmethod
    def validate_version(cls, value: str) -> str:
        checked = _checked_version(value)
        assert checked is not None
        return checked


# -- tools


class FormShowOnObject(BaseModel):
    variable: str
    value: str


class ToolIdentity(BaseModel):
    author: str
    name: str
    label: I18nObject


class ToolParameterOption(ParameterOption):
    show_on: list[FormShowOnObject] = Field(default_factory=list)


class ToolParameter(BaseModel):
    class ToolParameterType(StrEnum):
        STRING = "string"
        NUMBER = "number"
        BOOLEAN = "boolean"
        SELECT = "select"
        SECRET_INPUT = "secret-input"
        FILE = "file"
        FILES = "files"
        MODEL_SELECTOR = "model-selector"
        APP_SELECTOR = "app-selector"
        CHECKBOX = "checkbox"
        ANY = "any"
        OBJECT = "object"
        ARRAY = "array"
        DYNAMIC_SELECT = "dynamic-select"
        DATE = "date"
        DATE_RANGE = "date-range"

    class ToolParameterForm(Enum):
        SCHEMA = "schema"
        FORM = "form"
        LLM = "llm"

    name: str
    label: I18nObject
    human_description: I18nObject
    type: ToolParameterType
    auto_generate: ParameterAutoGenerate | None = None
    template: ParameterTemplate | None = None
    scope: str | None = None
    form: ToolParameterForm
    llm_description: str | None = None
    required: bool | None = False
    multiple: bool = False
    default: JsonValue = None
    min: float | int | None = None
    max: float | int | None = None
    precision: int | None = None
    options: list[ToolParameterOption] | None = None
    input_schema: Mapping[str, Any] | None = None
    show_on: list[FormShowOnObject] = Field(default_factory=list)

    @model_validator(mode="after")
    def validate_multiple(self) -> ToolParameter:
        kinds = {ToolParameter.ToolParameterType.SELECT, ToolParameter.ToolParameterType.DYNAMIC_SELECT}
        supports_multiple = self.type in kinds
        if self.multiple and not supports_multiple:
            raise ValueError("multiple is only valid for select and dynamic-select parameters")
        if supports_multiple and self.default is not None and isinstance(self.default, list) != self.multiple:
            raise ValueError("default must be a list exactly when multiple is true")
        return self


class ToolDescription(BaseModel):
    human: I18nObject
    llm: str


class PythonSource(BaseModel):
    source: str


class SourceExtra(BaseModel):
    python: PythonSource


class ToolConfiguration(BaseModel):
    identity: ToolIdentity
    parameters: list[ToolParameter] = Field(default=[])
    description: ToolDescription
    extra: SourceExtra
    has_runtime_parameters: bool = False
    output_schema: Mapping[str, Any] | None = None


class ToolLabelEnum(Enum):
    SEARCH = "search"
    IMAGE = "image"
    VIDEOS = "videos"
    WEATHER = "weather"
    FINANCE = "finance"
    DESIGN = "design"
    TRAVEL = "travel"
    SOCIAL = "social"
    NEWS = "news"
    MEDICAL = "medical"
    PRODUCTIVITY = "productivity"
    EDUCATION = "education"
    BUSINESS = "business"
    ENTERTAINMENT = "entertainment"
    UTILITIES = "utilities"
    RAG = "rag"
    OTHER = "other"


class ToolProviderIdentity(BaseModel):
    author: str
    name: str
    description: I18nObject
    icon: str
    icon_dark: str | None = None
    label: I18nObject
    tags: list[ToolLabelEnum] = Field(default=[])


class ToolProviderConfiguration(BaseModel):
    identity: ToolProviderIdentity
    credentials_schema: list[ProviderConfig] = Field(default_factory=list, alias="credentials_for_provider")
    oauth_schema: OAuthSchema | None = None
    tools: list[ToolConfiguration] = Field(default=[])
    extra: SourceExtra

    @model_validator(mode="before")
    @classmethod
    def validate_credentials_schema(cls, data: dict[str, Any]) -> dict[str, Any]:
        credentials = data.get("credentials_for_provider", {})
        if not isinstance(credentials, dict):
            raise TypeError("credentials_for_provider should be a mapping of credential name to its form")
        data["credentials_for_provider"] = named_list(credentials, "credentials_for_provider")
        return data


# -- endpoints


class EndpointConfiguration(BaseModel):
    path: str
    method: str
    hidden: bool = False
    extra: SourceExtra


class EndpointProviderConfiguration(BaseModel):
    settings: list[ProviderConfig] = Field(default_factory=list)
    endpoints: list[EndpointConfiguration] = Field(default_factory=list)


# -- agent strategies


class AgentStrategyFeature(StrEnum):
    HISTORY_MESSAGES = "history-messages"


class AgentStrategyParameter(BaseModel):
    class ToolParameterType(StrEnum):
        STRING = "string"
        NUMBER = "number"
        BOOLEAN = "boolean"
        SELECT = "select"
        SECRET_INPUT = "secret-input"
        FILE = "file"
        FILES = "files"
        MODEL_SELECTOR = "model-selector"
        APP_SELECTOR = "app-selector"
        TOOLS_SELECTOR = "array[tools]"
        ANY = "any"
        OBJECT = "object"
        ARRAY = "array"

    name: str
    label: I18nObject
    help: I18nObject | None = None
    type: ToolParameterType
    auto_generate: ParameterAutoGenerate | None = None
    template: ParameterTemplate | None = None
    scope: str | None = None
    required: bool | None = False
    default: int | float | str | None = None
    min: float | int | None = None
    max: float | int | None = None
    precision: int | None = None
    options: list[ToolParameterOption] | None = None


class AgentStrategyConfiguration(BaseModel):
    identity: ToolIdentity
    parameters: list[AgentStrategyParameter] = Field(default=[])
    description: I18nObject
    extra: SourceExtra
    has_runtime_parameters: bool = False
    output_schema: Mapping[str, Any] | None = None
    features: list[AgentStrategyFeature] = Field(default=[])


class AgentStrategyProviderConfiguration(BaseModel):
    identity: ToolProviderIdentity
    strategies: list[AgentStrategyConfiguration] = Field(default=[])


# -- models


class ModelType(Enum):
    LLM = "llm"
    TEXT_EMBEDDING = "text-embedding"
    RERANK = "rerank"
    SPEECH2TEXT = "speech2text"
    MODERATION = "moderation"
    TTS = "tts"
    TEXT2IMG = "text2img"


class FetchFrom(Enum):
    PREDEFINED_MODEL = "predefined-model"
    CUSTOMIZABLE_MODEL = "customizable-model"


class ModelFeature(Enum):
    TOOL_CALL = "tool-call"
    MULTI_TOOL_CALL = "multi-tool-call"
    AGENT_THOUGHT = "agent-thought"
    VISION = "vision"
    STREAM_TOOL_CALL = "stream-tool-call"
    DOCUMENT = "document"
    VIDEO = "video"
    AUDIO = "audio"
    STRUCTURED_OUTPUT = "structured-output"
    POLLING = "polling"


class ParameterType(Enum):
    FLOAT = "float"
    INT = "int"
    STRING = "string"
    BOOLEAN = "boolean"
    TEXT = "text"


class ModelPropertyKey(Enum):
    MODE = "mode"
    CONTEXT_SIZE = "context_size"
    MAX_CHUNKS = "max_chunks"
    FILE_UPLOAD_LIMIT = "file_upload_limit"
    SUPPORTED_FILE_EXTENSIONS = "supported_file_extensions"
    MAX_CHARACTERS_PER_CHUNK = "max_characters_per_chunk"
    DEFAULT_VOICE = "default_voice"
    VOICES = "voices"
    WORD_LIMIT = "word_limit"
    AUDIO_TYPE = "audio_type"
    MAX_WORKERS = "max_workers"


# The SDK's PARAMETER_RULE_TEMPLATE: what `use_template: <name>` fills in under a parameter rule's own keys.
PARAMETER_RULE_TEMPLATES: dict[str, dict[str, Any]] = {
    "temperature": {
        "label": {"en_US": "Temperature", "zh_Hans": "温度"},
        "type": "float",
        "help": {
            "en_US": "Controls randomness. Lower temperature results in less random completions. As the temperature "
            "approaches zero, the model will become deterministic and repetitive. Higher temperature results in more "
            "random completions.",
            "zh_Hans": "温度控制随机性。较低的温度会导致较少的随机完成。随着温度接近零，模型将变得确定性和重复性。"
            "较高的温度会导致更多的随机完成。",
        },
        "required": False,
        "default": 0.0,
        "min": 0.0,
        "max": 1.0,
        "precision": 2,
    },
    "top_p": {
        "label": {"en_US": "Top P", "zh_Hans": "Top P"},
        "type": "float",
        "help": {
            "en_US": "Controls diversity via nucleus sampling: 0.5 means half of all likelihood-weighted options are "
            "considered.",
            "zh_Hans": "通过核心采样控制多样性：0.5表示考虑了一半的所有可能性加权选项。",
        },
        "required": False,
        "default": 1.0,
        "min": 0.0,
        "max": 1.0,
        "precision": 2,
    },
    "top_k": {
        "label": {"en_US": "Top K", "zh_Hans": "Top K"},
        "type": "int",
        "help": {
            "en_US": "Limits the number of tokens to consider for each step by keeping only the k most likely tokens.",
            "zh_Hans": "通过只保留每一步中最可能的 k 个标记来限制要考虑的标记数量。",
        },
        "required": False,
        "default": 50,
        "min": 1,
        "max": 100,
        "precision": 0,
    },
    "presence_penalty": {
        "label": {"en_US": "Presence Penalty", "zh_Hans": "存在惩罚"},
        "type": "float",
        "help": {
            "en_US": "Applies a penalty to the log-probability of tokens already in the text.",
            "zh_Hans": "对文本中已有的标记的对数概率施加惩罚。",
        },
        "required": False,
        "default": 0.0,
        "min": 0.0,
        "max": 1.0,
        "precision": 2,
    },
    "frequency_penalty": {
        "label": {"en_US": "Frequency Penalty", "zh_Hans": "频率惩罚"},
        "type": "float",
        "help": {
            "en_US": "Applies a penalty to the log-probability of tokens that appear in the text.",
            "zh_Hans": "对文本中出现的标记的对数概率施加惩罚。",
        },
        "required": False,
        "default": 0.0,
        "min": 0.0,
        "max": 1.0,
        "precision": 2,
    },
    "max_tokens": {
        "label": {"en_US": "Max Tokens", "zh_Hans": "最大标记"},
        "type": "int",
        "help": {
            "en_US": "Specifies the upper limit on the length of generated results. If the generated results are "
            "truncated, you can increase this parameter.",
            "zh_Hans": "指定生成结果长度的上限。如果生成结果截断，可以调大该参数。",
        },
        "required": False,
        "default": 64,
        "min": 1,
        "max": 2048,
        "precision": 0,
    },
    "response_format": {
        "label": {"en_US": "Response Format", "zh_Hans": "回复格式"},
        "type": "string",
        "help": {
            "en_US": "Set a response format, ensure the output from llm is a valid code block as possible, such as "
            "JSON, XML, etc.",
            "zh_Hans": "设置一个返回格式，确保llm的输出尽可能是有效的代码块，如JSON、XML等",
        },
        "required": False,
        "options": ["JSON", "XML"],
    },
    "json_schema": {
        "label": {"en_US": "JSON Schema"},
        "type": "text",
        "help": {
            "en_US": "Set a response json schema will ensure LLM to adhere it.",
            "zh_Hans": "设置返回的json schema，llm将按照它返回",
        },
        "required": False,
    },
}


class ProviderModel(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model: str
    label: I18nObject
    model_type: ModelType
    features: list[ModelFeature] | None = None
    fetch_from: FetchFrom = FetchFrom.PREDEFINED_MODEL
    model_properties: dict[ModelPropertyKey, Any]
    deprecated: bool = False

    @model_validator(mode="before")
    @classmethod
    def validate_label(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("label"):
            data["label"] = {"en_US": data["model"]}
        return data


class ParameterRule(BaseModel):
    name: str
    use_template: str | None = None
    label: I18nObject
    type: ParameterType
    help: I18nObject | None = None
    required: bool = False
    default: Any | None = None
    min: float | None = None
    max: float | None = None
    precision: int | None = None
    options: list[str] = Field(default=[])

    @model_validator(mode="before")
    @classmethod
    def validate_label(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if "use_template" in data:
                with contextlib.suppress(TypeError):  # an unhashable name; the SDK's lookup fails the same quiet way
                    template = PARAMETER_RULE_TEMPLATES.get(data["use_template"])
                    if template is not None:
                        data = {**template, **data}
            if not data.get("label"):
                data["label"] = {"en_US": data["name"]}
        return data


class PriceConfig(BaseModel):
    input: Decimal
    output: Decimal | None = None
    unit: Decimal
    currency: str


class AIModelEntity(ProviderModel):
    parameter_rules: list[ParameterRule] = []
    pricing: PriceConfig | None = None


class ConfigurateMethod(Enum):
    PREDEFINED_MODEL = "predefined-model"
    CUSTOMIZABLE_MODEL = "customizable-model"


class FormType(Enum):
    TEXT_INPUT = "text-input"
    SECRET_INPUT = "secret-input"
    SELECT = "select"
    RADIO = "radio"
    SWITCH = "switch"


class FormOption(BaseModel):
    label: I18nObject
    value: str
    show_on: list[FormShowOnObject] = Field(default_factory=list)


class CredentialFormSchema(BaseModel):
    variable: str
    label: I18nObject
    type: FormType
    required: bool = True
    default: str | None = None
    options: list[FormOption] | None = None
    placeholder: I18nObject | None = None
    max_length: int = 0
    show_on: list[FormShowOnObject] = Field(default_factory=list)


class ProviderCredentialSchema(BaseModel):
    credential_form_schemas: list[CredentialFormSchema]


class FieldModelSchema(BaseModel):
    label: I18nObject
    placeholder: I18nObject | None = None


class ModelCredentialSchema(BaseModel):
    model: FieldModelSchema
    credential_form_schemas: list[CredentialFormSchema]


class ProviderHelpEntity(BaseModel):
    title: I18nObject
    url: I18nObject


class ModelPosition(BaseModel):
    llm: list[str] | None = Field(default_factory=list)
    text_embedding: list[str] | None = Field(default_factory=list)
    rerank: list[str] | None = Field(default_factory=list)
    tts: list[str] | None = Field(default_factory=list)
    speech2text: list[str] | None = Field(default_factory=list)
    moderation: list[str] | None = Field(default_factory=list)


class ModelProviderConfigurationExtra(BaseModel):
    class Python(BaseModel):
        model_config = ConfigDict(protected_namespaces=())

        provider_source: str
        model_sources: list[str] = Field(default_factory=list)

    python: Python


class ModelProviderConfiguration(BaseModel):
    """The SDK's ProviderEntity fields, then `extra`; `models` holds the loaded model files."""

    model_config = ConfigDict(protected_namespaces=())

    provider: str
    label: I18nObject
    description: I18nObject | None = None
    icon_small: I18nObject | None = None
    icon_large: I18nObject | None = None
    icon_small_dark: I18nObject | None = None
    icon_large_dark: I18nObject | None = None
    background: str | None = None
    help: ProviderHelpEntity | None = None
    supported_model_types: Sequence[ModelType]
    configurate_methods: list[ConfigurateMethod]
    models: list[AIModelEntity] = Field(default_factory=list)
    provider_credential_schema: ProviderCredentialSchema | None = None
    model_credential_schema: ModelCredentialSchema | None = None
    position: ModelPosition | None = None
    extra: ModelProviderConfigurationExtra


# -- datasources


class DatasourceLabelEnum(Enum):
    SEARCH = "search"
    IMAGE = "image"
    VIDEOS = "videos"
    WEATHER = "weather"
    FINANCE = "finance"
    DESIGN = "design"
    TRAVEL = "travel"
    SOCIAL = "social"
    NEWS = "news"
    MEDICAL = "medical"
    PRODUCTIVITY = "productivity"
    EDUCATION = "education"
    BUSINESS = "business"
    ENTERTAINMENT = "entertainment"
    UTILITIES = "utilities"
    OTHER = "other"


class DatasourceProviderType(StrEnum):
    ONLINE_DOCUMENT = "online_document"
    WEBSITE_CRAWL = "website_crawl"
    ONLINE_DRIVE = "online_drive"


class DatasourceParameter(BaseModel):
    class DatasourceParameterType(StrEnum):
        STRING = "string"
        NUMBER = "number"
        BOOLEAN = "boolean"
        SELECT = "select"
        SECRET_INPUT = "secret-input"
        FILE = "file"
        FILES = "files"

    name: str
    label: I18nObject
    placeholder: I18nObject | None = None
    scope: str | None = None
    auto_generate: ParameterAutoGenerate | None = None
    template: ParameterTemplate | None = None
    required: bool = False
    default: float | int | str | None = None
    min: float | int | None = None
    max: float | int | None = None
    precision: int | None = None
    options: list[ParameterOption] = Field(default_factory=list)
    type: DatasourceParameterType
    description: I18nObject


class DatasourceIdentity(BaseModel):
    author: str
    name: str
    label: I18nObject
    icon: str | None = None


class DatasourceEntity(BaseModel):
    identity: DatasourceIdentity
    parameters: list[DatasourceParameter] = Field(default_factory=list)
    description: I18nObject
    output_schema: dict[str, Any] = Field(default_factory=dict)
    extra: SourceExtra

    @field_validator("parameters", mode="before")
    @classmethod
    def set_parameters(cls, value: Any) -> Any:
        return value or []


class DatasourceProviderIdentity(BaseModel):
    author: str
    name: str
    description: I18nObject
    icon: str
    label: I18nObject
    tags: list[DatasourceLabelEnum] | None = Field(default=[])


class DatasourceProviderManifest(BaseModel):
    identity: DatasourceProviderIdentity
    credentials_schema: list[ProviderConfig] = Field(default_factory=list)
    oauth_schema: OAuthSchema | None = None
    provider_type: DatasourceProviderType
    datasources: list[DatasourceEntity] = Field(default_factory=list)
    extra: SourceExtra


# -- triggers


class EventParameter(BaseModel):
    class EventParameterType(StrEnum):
        STRING = "string"
        NUMBER = "number"
        BOOLEAN = "boolean"
        SELECT = "select"
        CHECKBOX = "checkbox"
        FILE = "file"
        FILES = "files"
        MODEL_SELECTOR = "model-selector"
        APP_SELECTOR = "app-selector"
        OBJECT = "object"
        ARRAY = "array"
        DYNAMIC_SELECT = "dynamic-select"

    name: str
    label: I18nObject
    type: EventParameterType
    auto_generate: ParameterAutoGenerate | None = None
    template: ParameterTemplate | None = None
    scope: str | None = None
    required: bool | None = False
    multiple: bool | None = False
    default: int | float | str | list[Any] | None = None
    min: float | int | None = None
    max: float | int | None = None
    precision: int | None = None
    options: list[ParameterOption] | None = None
    description: I18nObject | None = None


class EventLabelEnum(Enum):
    WEBHOOKS = "webhooks"


class TriggerProviderIdentity(BaseModel):
    author: str
    name: str
    label: I18nObject
    description: I18nObject
    icon: str | None = None
    icon_dark: str | None = None
    tags: list[EventLabelEnum] = Field(default_factory=list)


class EventIdentity(BaseModel):
    author: str
    name: str
    label: I18nObject


class EventConfiguration(BaseModel):
    identity: EventIdentity
    parameters: list[EventParameter] = Field(default_factory=list)
    description: I18nObject
    extra: SourceExtra
    output_schema: Mapping[str, Any] | None = None


class TriggerSubscriptionConstructorConfiguration(BaseModel):
    parameters: list[EventParameter] = Field(default_factory=list)
    credentials_schema: list[ProviderConfig] = Field(default_factory=list)
    oauth_schema: OAuthSchema | None = None
    extra: SourceExtra | None = None

    @model_validator(mode="before")
    @classmethod
    def normalize_credentials_schema(cls, data: object) -> dict[str, Any]:
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise TypeError("subscription_constructor should be defined as a mapping")
        normalised = dict(data)
        normalised["credentials_schema"] = named_list(normalised.get("credentials_schema", []), "credentials_schema")
        return normalised


class TriggerProviderConfiguration(BaseModel):
    identity: TriggerProviderIdentity
    subscription_schema: list[ProviderConfig] = Field(default_factory=list)
    subscription_constructor: TriggerSubscriptionConstructorConfiguration | None = None
    events: list[EventConfiguration] = Field(default=[])
    extra: SourceExtra

    @model_validator(mode="before")
    @classmethod
    def validate_credentials_schema(cls, data: dict[str, Any]) -> dict[str, Any]:
        data["credentials_schema"] = named_list(data.get("credentials_schema", []), "credentials_schema")
        return data


# manifest `plugins` key -> (declaration message type, model of one provider file)
PROVIDER_MODELS: dict[str, tuple[str, type[BaseModel]]] = {
    "tools": ("tool_declaration", ToolProviderConfiguration),
    "models": ("model_declaration", ModelProviderConfiguration),
    "endpoints": ("endpoint_declaration", EndpointProviderConfiguration),
    "agent_strategies": ("agent_strategy_declaration", AgentStrategyProviderConfiguration),
    "datasources": ("datasource_declaration", DatasourceProviderManifest),
    "triggers": ("trigger_declaration", TriggerProviderConfiguration),
}


def daemon_manifest_problem(manifest: Mapping[str, Any]) -> str | None:
    """What the daemon refuses in a manifest the SDK accepted, or None."""
    author, name = manifest.get("author"), manifest.get("name")
    if not isinstance(author, str) or not AUTHOR_PATTERN.match(author):
        return f"author {author!r} must match {AUTHOR_PATTERN.pattern}"
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        return f"name {name!r} must match {NAME_PATTERN.pattern}"
    return None
